"""Skew finder: which preparation fits this model? A sample of labelled images under each preset and a small grid,
ranked; the best applies to this session or downloads as a profile file, and any two compare with the full
verdict."""
from dashboard.skew import result_view
from dashboard.skew import view as skew_view
from dashboard.ui import widgets

if (connection := widgets.start_page("Which preparation fits this model?")) is not None:
    overview = widgets.load_overview(connection)
    items = skew_view.finder_form(connection, overview)
    if (shown := skew_view.shown_finding(connection.url, connection.model)) is not None:
        finding, truth, summary = shown
        result_view.render_finding(finding, model=connection.model,
                                   on_compare=result_view.stored_comparison(connection, items, finding, truth,
                                                                            summary))
