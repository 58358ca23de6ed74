"""t-SNE embeddings, a separability score and the two-panel figure of
``tools/analysis_tools/tsne_masknet.py`` (paper Fig. 10).

:func:`embed` uses scikit-learn's :class:`~sklearn.manifold.TSNE` when it is
installed (``method='auto'`` or ``'sklearn'``) and otherwise the exact
t-SNE below (``'exact'``), numpy only, after van der Maaten & Hinton (2008):

- ``P``: per point a binary search for the Gaussian bandwidth whose
  conditional distribution has the target perplexity (entropy
  ``log(perplexity)`` in nats, :func:`conditional_probabilities`), then
  symmetrised ``P = (P + P^T) / 2N``;
- ``Q``: Student-t (one degree of freedom) in the 2-D map;
- gradient descent on ``KL(P || Q)`` from ``N(0, 1e-4)``: early
  exaggeration (``P`` x 12) for the first 250 iterations, momentum 0.5
  then 0.8, per-coordinate gains (delta-bar-delta), learning rate
  ``max(N / early_exaggeration / 4, 50)`` (scikit-learn's ``'auto'``),
  1000 iterations.

It is ``O(N^2)`` in time and memory: fine for up to about 2000 points, and
deterministic for a seed. :func:`knn_accuracy` (leave-one-out k-NN
classification accuracy) quantifies how well classes separate, in the
embedding and in the original feature space.
"""
import importlib.util
import inspect
from typing import Optional, Sequence, Tuple

import numpy as np

from mstkd.utils.errors import UserInputError
from .plots import DPI, _pyplot

#: Size of the two-panel figure in inches at :data:`~.plots.DPI`.
TSNE_FIGSIZE = (13.0, 6.0)
METHODS = ('auto', 'sklearn', 'exact')


# -- distances ----------------------------------------------------------------
def gram(x: np.ndarray, center: bool = False,
         chunk: int = 8192) -> np.ndarray:
    """``x @ x.T`` in float64 (of the column-centred ``x`` with
    ``center``), accumulated over column chunks: a wide float32 ``x``
    (flattened feature maps) is never copied whole."""
    x = np.asarray(x)
    g = np.zeros((x.shape[0], x.shape[0]))
    for start in range(0, x.shape[1], chunk):
        c = x[:, start:start + chunk].astype(np.float64)
        if center:
            c -= c.mean(0)
        g += c @ c.T
    return g


def squared_distances(x: np.ndarray) -> np.ndarray:
    """``(N, N)`` squared Euclidean distances of the rows of ``x``
    (float64, diagonal 0, no negative entries)."""
    g = gram(x)
    sq = np.diag(g).copy()
    d = sq[:, None] + sq[None, :] - 2.0 * g
    np.maximum(d, 0.0, out=d)
    np.fill_diagonal(d, 0.0)
    return d


def pca(x: np.ndarray, dims: int = 50) -> np.ndarray:
    """The rows of ``x`` on their first ``dims`` principal components
    (centred; each component's sign fixed so that its largest-magnitude
    entry is positive, so the result does not depend on the solver's sign
    choice). Only centred when ``x`` has ``dims`` columns or fewer. A wide
    ``x`` (more columns than rows) goes through its ``N x N`` Gram
    matrix."""
    x = np.asarray(x)
    n, d = x.shape
    if d <= dims:
        return x.astype(np.float64) - x.mean(0)
    if d > n:
        evals, evecs = np.linalg.eigh(gram(x, center=True))
        order = np.argsort(evals)[::-1][:dims]
        proj = evecs[:, order] * np.sqrt(np.maximum(evals[order], 0.0))
    else:
        xc = x.astype(np.float64) - x.mean(0)
        u, s, _ = np.linalg.svd(xc, full_matrices=False)
        proj = u[:, :dims] * s[:dims]
    signs = np.sign(proj[np.abs(proj).argmax(0), np.arange(proj.shape[1])])
    signs[signs == 0] = 1.0
    return proj * signs


# -- P: the input similarities ------------------------------------------------
def conditional_probabilities(dist2: np.ndarray, perplexity: float,
                              tol: float = 1e-6,
                              max_iter: int = 200) -> np.ndarray:
    """Row-wise ``p_{j|i}`` whose entropy is ``log(perplexity)``.

    A binary search per row on the precision ``beta = 1 / (2 sigma^2)`` of
    the Gaussian kernel, until the row's entropy (nats) is within ``tol``
    of the target.

    Args:
        dist2 (np.ndarray): ``(N, N)`` squared distances.
        perplexity (float): Target perplexity, ``1 < perplexity < N``.
        tol (float): Tolerance on the entropy. Defaults to 1e-6.
        max_iter (int): Bisection steps per row. Defaults to 200.

    Returns:
        np.ndarray: ``(N, N)`` rows summing to 1, zero diagonal.
    """
    n = dist2.shape[0]
    if not 1.0 < perplexity < n:
        raise ValueError(f'perplexity must be in (1, N={n}), got '
                         f'{perplexity}')
    target = np.log(perplexity)
    p = np.zeros((n, n))
    for i in range(n):
        d = np.delete(dist2[i], i)
        d = d - d.min()  # shift: the same p, no underflow
        beta, lo, hi = 1.0, 0.0, np.inf
        for _ in range(max_iter):
            w = np.exp(-d * beta)
            total = w.sum()
            row = w / total
            entropy = np.log(total) + beta * float(np.dot(d, row))
            diff = entropy - target
            if abs(diff) < tol:
                break
            if diff > 0:  # too flat: sharpen
                lo = beta
                beta = beta * 2.0 if hi == np.inf else (beta + hi) / 2.0
            else:
                hi = beta
                beta = (beta + lo) / 2.0
        p[i, np.arange(n) != i] = row
    return p


def row_perplexities(p: np.ndarray) -> np.ndarray:
    """``exp(H(P_i))`` of every row of a conditional ``P`` (nats)."""
    with np.errstate(divide='ignore', invalid='ignore'):
        logs = np.where(p > 0, np.log(p), 0.0)
    return np.exp(-(p * logs).sum(1))


def joint_probabilities(x: np.ndarray, perplexity: float) -> np.ndarray:
    """Symmetrised ``P = (P_cond + P_cond^T) / 2N`` of the rows of ``x``."""
    p = conditional_probabilities(squared_distances(x), perplexity)
    p = (p + p.T) / (2.0 * p.shape[0])
    return np.maximum(p, 1e-12)


def effective_perplexity(perplexity: float, n: int) -> float:
    """``perplexity`` capped at ``(N - 1) / 3`` (small sets), at least 2."""
    return float(max(2.0, min(perplexity, (n - 1) / 3.0)))


# -- exact t-SNE --------------------------------------------------------------
def exact_tsne(x: np.ndarray, perplexity: float = 30.0, n_iter: int = 1000,
               seed: int = 0, n_components: int = 2,
               early_exaggeration: float = 12.0,
               exaggeration_iter: int = 250,
               learning_rate: Optional[float] = None) -> np.ndarray:
    """Exact t-SNE of the rows of ``x`` (van der Maaten & Hinton, 2008).

    Args:
        x (np.ndarray): ``(N, D)`` features (N >= 4).
        perplexity (float): Defaults to 30 (capped at ``(N - 1) / 3``).
        n_iter (int): Gradient steps. Defaults to 1000.
        seed (int): Seed of the initial map. Defaults to 0.
        n_components (int): Embedding dimension. Defaults to 2.
        early_exaggeration (float): Factor on ``P`` for the first
            ``exaggeration_iter`` steps. Defaults to 12.
        exaggeration_iter (int): Defaults to 250 (momentum 0.5 over them,
            0.8 afterwards).
        learning_rate (float, optional): Defaults to
            ``max(N / early_exaggeration / 4, 50)``.

    Returns:
        np.ndarray: ``(N, n_components)`` float64 embedding.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n < 4:
        raise ValueError(f't-SNE needs at least 4 points, got {n}')
    p = joint_probabilities(x, effective_perplexity(perplexity, n))
    if learning_rate is None:
        learning_rate = max(n / early_exaggeration / 4.0, 50.0)
    rng = np.random.RandomState(seed)
    y = 1e-4 * rng.randn(n, n_components)
    update = np.zeros_like(y)
    gains = np.ones_like(y)
    for it in range(n_iter):
        exaggerate = it < exaggeration_iter
        pe = p * early_exaggeration if exaggerate else p
        momentum = 0.5 if exaggerate else 0.8
        num = 1.0 / (1.0 + squared_distances(y))
        np.fill_diagonal(num, 0.0)
        q = np.maximum(num / num.sum(), 1e-12)
        w = (pe - q) * num
        grad = 4.0 * (w.sum(1)[:, None] * y - w @ y)
        same = np.sign(grad) == np.sign(update)
        gains = np.where(same, gains * 0.8, gains + 0.2)
        np.maximum(gains, 0.01, out=gains)
        update = momentum * update - learning_rate * gains * grad
        y = y + update
        y = y - y.mean(0)
    return y


# -- method choice ------------------------------------------------------------
def sklearn_available() -> bool:
    return importlib.util.find_spec('sklearn') is not None


def resolve_method(method: str) -> str:
    """``'sklearn'`` or ``'exact'`` for ``method`` (``'auto'``: sklearn
    when importable)."""
    if method not in METHODS:
        raise UserInputError(f'--method must be one of {list(METHODS)}, got '
                             f'{method!r}.')
    if method == 'auto':
        return 'sklearn' if sklearn_available() else 'exact'
    if method == 'sklearn' and not sklearn_available():
        raise UserInputError(
            '--method sklearn: scikit-learn is not installed (pip install '
            'scikit-learn), or use --method exact (built-in exact t-SNE).')
    return method


def embed(x: np.ndarray, method: str = 'auto', perplexity: float = 30.0,
          n_iter: int = 1000, seed: int = 0) -> Tuple[np.ndarray, str]:
    """2-D t-SNE of the rows of ``x``: ``(embedding (N, 2), method run)``,
    the method being ``'sklearn'`` (:class:`sklearn.manifold.TSNE`, PCA
    initialisation, ``random_state=seed``) or ``'exact'``
    (:func:`exact_tsne`). The perplexity is capped at ``(N - 1) / 3``."""
    method = resolve_method(method)
    x = np.asarray(x, dtype=np.float64)
    perp = effective_perplexity(perplexity, x.shape[0])
    if method == 'exact':
        return exact_tsne(x, perp, n_iter=n_iter, seed=seed), method
    from sklearn.manifold import TSNE
    params = inspect.signature(TSNE.__init__).parameters
    iters = 'max_iter' if 'max_iter' in params else 'n_iter'
    tsne = TSNE(n_components=2, perplexity=perp, init='pca',
                learning_rate='auto', random_state=seed,
                **{iters: max(n_iter, 250)})
    return tsne.fit_transform(x).astype(np.float64), method


# -- separability -------------------------------------------------------------
def knn_accuracy(x: np.ndarray, labels: Sequence[int], k: int = 5) -> float:
    """Leave-one-out ``k``-NN classification accuracy of the rows of ``x``
    (Euclidean; majority vote, a tie going to the class with the nearest
    member among the tied ones)."""
    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels)
    n = len(labels)
    if n < 2:
        return float('nan')
    k = min(k, n - 1)
    d = squared_distances(x)
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1, kind='stable')[:, :k]
    correct = 0
    for i in range(n):
        votes = labels[nearest[i]]
        classes, counts = np.unique(votes, return_counts=True)
        tied = set(classes[counts == counts.max()])
        pred = next(v for v in votes if v in tied)  # nearest among tied
        correct += int(pred == labels[i])
    return correct / n


# -- figure -------------------------------------------------------------------
def plot_tsne_panels(panels: Sequence[dict], labels: Sequence[int],
                     classes: Sequence[str], title: Optional[str] = None):
    """Side-by-side scatter plots of 2-D embeddings, coloured by class.

    Args:
        panels (Sequence[dict]): One per panel: ``embedding`` ``(N, 2)``,
            ``title``.
        labels (Sequence[int]): Class index of every point.
        classes (Sequence[str]): Class names (legend).
        title (str, optional): Figure title.

    Returns:
        Figure: :data:`TSNE_FIGSIZE` (width scaled to the panel count).
    """
    plt = _pyplot()
    labels = np.asarray(labels)
    present = sorted(set(labels.tolist()))
    cmap = plt.get_cmap('tab10' if len(classes) <= 10 else 'tab20')
    width = TSNE_FIGSIZE[0] * len(panels) / 2.0
    fig, axes = plt.subplots(1, len(panels), dpi=DPI,
                             figsize=(width, TSNE_FIGSIZE[1]), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        emb = np.asarray(panel['embedding'])
        for c in present:
            sel = labels == c
            name = classes[c] if c < len(classes) else str(c)
            ax.scatter(emb[sel, 0], emb[sel, 1], s=8, alpha=0.8,
                       color=cmap(c % cmap.N), label=name, linewidths=0)
        ax.set_title(panel.get('title', ''), fontsize='medium')
        ax.set_xticks([])
        ax.set_yticks([])
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc='center right', title='class',
               markerscale=2.5, fontsize='small', frameon=False)
    if title:
        fig.suptitle(title, fontsize='medium')
    fig.tight_layout(rect=(0, 0, 1 - 0.9 / width, 1))
    return fig
