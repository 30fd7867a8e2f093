"""The `pets` demo model: EfficientNet-Lite0 (ImageNet weights) plus a cat/dog/other head, as SavedModels."""
from pathlib import Path

PETS_DIR = Path(__file__).resolve().parent
HEADS_DIR = PETS_DIR / "heads"
MODEL_NAME = "pets"
CLASS_NAMES = ("cat", "dog", "other")
# Version -> square input size. Version 1 is the cheaper "stable" model, version 2 the "canary".
VERSION_SIZES = {1: 128, 2: 224}
VERSION_LABELS = {"stable": 1, "canary": 2}
FEATURE_DIM = 1280
