"""ServeScope dashboard logic.

Only `dashboard.state` imports streamlit; every other module here is plain Python that the pages call and the
tests exercise directly (they raise plain errors, which the pages turn into messages).
"""
