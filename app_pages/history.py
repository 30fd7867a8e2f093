"""History: every stored run, from any session or browser (dashboard.history.view draws it)."""
from dashboard.history import view as history_view
from dashboard.ui import state, widgets

widgets.start_page("History")
if (store := widgets.open_run_store()) is not None:
    history_view.render_history(store, session_id=state.session_id(), key_prefix="history_stored")
