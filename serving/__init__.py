"""An embedded REST server that behaves like TensorFlow Serving for SavedModels (`python -m serving`)."""
