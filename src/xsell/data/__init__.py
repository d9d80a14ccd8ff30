"""Data layer: readers, cleaning, the DuckDB store, id maps, ShopData and splits."""
