"""Choosing an algorithm by its energy: KNN (k=3) against KMeans (256 clusters) on
scikit-learn's bundled digits (no download). Both classify the held-out quarter; KMeans
labels each cluster with its majority training label. Joules, gCO2e and accuracy are
reported side by side. Needs scikit-learn (``pip install -r examples/requirements.txt``).
"""

import pytest

pytest.importorskip("sklearn", reason="pip install scikit-learn (examples only)")
import numpy as np  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402

DIGITS = load_digits()
X_TRAIN, X_TEST, Y_TRAIN, Y_TEST = train_test_split(
    DIGITS.data, DIGITS.target, test_size=0.25, random_state=0, stratify=DIGITS.target,
)


def knn_accuracy() -> float:
    model = KNeighborsClassifier(n_neighbors=3).fit(X_TRAIN, Y_TRAIN)
    return float((model.predict(X_TEST) == Y_TEST).mean())


def kmeans_accuracy() -> float:
    model = KMeans(n_clusters=256, n_init=1, random_state=0).fit(X_TRAIN)
    majority = np.zeros(256, dtype=int)
    for cluster in range(256):
        labels = Y_TRAIN[model.labels_ == cluster]
        majority[cluster] = np.bincount(labels).argmax() if labels.size else 0
    return float((majority[model.predict(X_TEST)] == Y_TEST).mean())


@pytest.mark.energy(rounds=3, warmup=0)
@pytest.mark.energy_ratio(candidate="knn", at_most=0.5)
def test_knn_uses_less_energy_than_kmeans_at_useful_accuracy(energy):
    result = energy.versus(
        {"knn": knn_accuracy, "kmeans": kmeans_accuracy}, check=False, value_label="accuracy",
    )
    assert result["knn"].value >= 0.95
    assert result["kmeans"].value >= 0.85
