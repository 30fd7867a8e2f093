"""ServeScope's process supervisor: `python -m launcher` (what `make run` calls) starts the embedded model server
when none answers, waits until the model is AVAILABLE, starts the Streamlit dashboard, and stops both on Ctrl-C
or SIGTERM. It runs them as child processes; of the app it imports only dashboard.config (the same settings)."""
