from psyscreen.cli import main

main(prog_name="psyscreen")
