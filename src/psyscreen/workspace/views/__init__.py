"""The workspace's pages, by who uses them: sign-in (auth), cases (cases), the county (county), admin (admin)."""
