"""What every page shares on screen: the session's state (state.py), shared widgets (widgets.py), who the visitor
is and what they may do (access.py), runs in progress (run_progress.py) and the request inspector
(inspector_view.py). Every module here imports streamlit;
import them as modules (`from dashboard.ui import state, widgets`)."""

__all__: list[str] = []
