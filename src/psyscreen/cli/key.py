"""``psyscreen key new FILE``: make a pseudonymisation key (the secret behind ``screen --pseudonymise``)."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["key", "COMMANDS"]

_TEXT = {
    "zh": {
        "done": "已写入新的假名化密钥：{path}（仅本人可读，权限 0600）。",
        "keep": "请把它保存在输出文件夹之外并备份：同一密钥才能把各批次的学生对应起来；丢失后无法恢复。",
        "exists": "{path} 已有密钥文件，未改动。替换它会使已假名化的批次无法与今后的批次对应；确需替换请加 --force。",
        "folder": "无法写入 {path}：{why}。请先创建该文件夹或换一个位置。",
    },
    "en": {
        "done": "Wrote a new pseudonymisation key to {path} (readable by you only, permissions 0600).",
        "keep": "Keep it outside the output folders and back it up: only the same key links the waves' students; "
                "a lost key cannot be recovered.",
        "exists": "{path} holds a key already; it is kept. Replacing it breaks the link between waves already "
                  "pseudonymised and later ones; pass --force to replace it anyway.",
        "folder": "Cannot write {path}: {why}. Create the folder first or choose another place.",
    },
}


@click.group("key")
def key() -> None:
    """Pseudonymisation keys (for screen --pseudonymise)."""


@key.command("new")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace an existing key file (breaks the link with earlier waves).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def new(file: Path, force: bool, lang: str) -> None:
    """Write a new random key to FILE, readable by the owner only (0600); an existing FILE is kept unless --force.

    Example: psyscreen key new county.key
    """
    from ..privacy import new_key

    text = _TEXT[lang]
    try:
        path = new_key(file, overwrite=force)
    except FileExistsError:
        raise click.ClickException(text["exists"].format(path=file)) from None
    except OSError as exc:
        raise click.ClickException(text["folder"].format(path=file, why=exc.strerror or type(exc).__name__)) from None
    click.echo(text["done"].format(path=path))
    click.echo(text["keep"])


COMMANDS = [key]
