"""History: every stored run, from any session or browser (dashboard.history_view draws it)."""
import logging

from dashboard import history_view, state, widgets
from dashboard.store import StoreError

widgets.start_page("History")
try:
    store = state.run_store()
except StoreError:
    logging.getLogger("servescope.dashboard").exception("the run store cannot be opened")
    widgets.show_error("The run store cannot be opened; the dashboard's log says why.")
else:
    history_view.render_history(store, session_id=state.session_id(), key_prefix="history_stored")
