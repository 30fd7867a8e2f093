"""The Models page's feature: what the server did over time, drawn (view.py, charts.py). The model overview
itself is dashboard.server.overview."""

__all__: list[str] = []
