"""Datasets: named, versioned image sets with their ground truth, the runs made on each, exports and deletion
(dashboard.datasets.view draws it)."""
from dashboard.datasets import view as datasets_view
from dashboard.ui import widgets

widgets.start_page("Datasets")
if (store := widgets.open_run_store()) is not None:
    datasets_view.render_datasets(store)
