"""ddrid's desktop application (Qt).  Imports ddrcore; ddrcore never imports this."""
