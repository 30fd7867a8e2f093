"""Old name of the launcher: `python -m dashboard.launch` runs `python -m launcher` (the process supervisor now
lives in launcher/). Kept until the Makefile calls `python -m launcher`; nothing imports this module."""
import runpy

if __name__ == "__main__":
    runpy.run_module("launcher", run_name="__main__", alter_sys=True)
