"""ServeScope dashboard logic.

Only the Streamlit-facing modules (state.py: session keys and accessors; widgets.py: shared widgets, and the
view modules tests/test_architecture.py lists) import streamlit; every other module here is plain Python that
the pages call and the tests exercise directly (they raise plain errors, which the pages turn into messages).
"""
