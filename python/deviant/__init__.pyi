"""Type stubs of the `deviant` package; written by `python -m deviant._stubs`."""

import os
from typing import Any, Callable, Sequence

import numpy as np

from . import spark as spark

__version__: str

class ModelVersionError(ValueError): ...

Data = Any  # a numpy array, a pandas DataFrame, or a path to a table file

def kinds() -> list[str]: ...
def use_device(device: str) -> str: ...
def load(path: str | os.PathLike[str], device: str | None = ...) -> BaseDetector: ...
def select(
    X: Data,
    y: Any = ...,
    budget: str | float = ...,
    *,
    members: int = ...,
    deep: bool = ...,
    labelled_share: float = ...,
    threshold: str | None = ...,
    random_state: int = ...,
    device: str | None = ...,
    progress: Any = ...,
    on_attempt: Callable[[dict[str, Any]], None] | None = ...,
    fit_runner: Callable[[bytes, str], str] | None = ...,
    **read: Any,
) -> tuple[BaseDetector, Any]: ...

class BaseDetector:
    contamination: float
    threshold: str | None
    scaling: str
    impute: bool
    random_state: int | None
    device: str | None
    decision_scores_: np.ndarray
    labels_: np.ndarray
    threshold_: float | None
    n_features_in_: int
    feature_names_in_: np.ndarray
    features_: list[str]
    def fit(self, X: Data, y: Any = ..., *, progress: Any = ..., **read: Any) -> BaseDetector: ...
    def decision_function(self, X: Data, **read: Any) -> np.ndarray: ...
    def predict(self, X: Data, return_confidence: bool = ..., **read: Any) -> Any: ...
    def predict_proba(self, X: Data, method: str = ..., return_confidence: bool = ...) -> Any: ...
    def fit_predict(self, X: Data, y: Any = ..., **kwargs: Any) -> np.ndarray: ...
    def explain(self, X: Data) -> np.ndarray: ...
    def save(self, path: str | os.PathLike[str]) -> None: ...
    def get_params(self, deep: bool = ...) -> dict[str, Any]: ...
    def set_params(self, **params: Any) -> BaseDetector: ...

class OnlineMixin:
    def partial_fit(self, X: Data, y: Any = ...) -> BaseDetector: ...

class Detector(OnlineMixin, BaseDetector):
    kind: str
    def __init__(
        self,
        kind: str = ...,
        contamination: float = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
        **params: Any,
    ) -> None: ...

class AutoEncoder(BaseDetector):
    """dense autoencoder (burn); score = mean squared reconstruction error"""
    hidden: Sequence[int]
    activation: str
    dropout: float
    learning_rate: float
    epochs: int
    batch_size: int
    validation_fraction: float
    patience: int
    restarts: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        hidden: Sequence[int] = ...,
        activation: str = ...,
        dropout: float = ...,
        learning_rate: float = ...,
        epochs: int = ...,
        batch_size: int = ...,
        validation_fraction: float = ...,
        patience: int = ...,
        restarts: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class VAE(BaseDetector):
    """variational autoencoder; score = reconstruction error, negative ELBO or reconstruction probability"""
    hidden: Sequence[int]
    latent: int
    activation: str
    beta: float
    decoder_std: float
    score: str
    samples: int
    learning_rate: float
    epochs: int
    batch_size: int
    validation_fraction: float
    patience: int
    restarts: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        hidden: Sequence[int] = ...,
        latent: int = ...,
        activation: str = ...,
        beta: float = ...,
        decoder_std: float = ...,
        score: str = ...,
        samples: int = ...,
        learning_rate: float = ...,
        epochs: int = ...,
        batch_size: int = ...,
        validation_fraction: float = ...,
        patience: int = ...,
        restarts: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class AAE(BaseDetector):
    """adversarial autoencoder (Makhzani et al. 2016); score = reconstruction error, optionally plus a latent-density term"""
    hidden: Sequence[int]
    latent: int
    activation: str
    discriminator_hidden: Sequence[int]
    adversarial_weight: float
    latent_weight: float
    learning_rate: float
    epochs: int
    batch_size: int
    validation_fraction: float
    patience: int
    restarts: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        hidden: Sequence[int] = ...,
        latent: int = ...,
        activation: str = ...,
        discriminator_hidden: Sequence[int] = ...,
        adversarial_weight: float = ...,
        latent_weight: float = ...,
        learning_rate: float = ...,
        epochs: int = ...,
        batch_size: int = ...,
        validation_fraction: float = ...,
        patience: int = ...,
        restarts: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class DAGMM(BaseDetector):
    """deep autoencoding Gaussian mixture (Zong et al. 2018); score = sample energy"""
    compression: str
    hidden: Sequence[int]
    activation: str
    init: str
    estimation_hidden: Sequence[int]
    estimation_dropout: float
    components: int
    lambda_energy: float
    lambda_covariance: float
    beta: float
    covariance_jitter: float
    learning_rate: float
    epochs: int
    batch_size: int
    validation_fraction: float
    patience: int
    restarts: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        compression: str = ...,
        hidden: Sequence[int] = ...,
        activation: str = ...,
        init: str = ...,
        estimation_hidden: Sequence[int] = ...,
        estimation_dropout: float = ...,
        components: int = ...,
        lambda_energy: float = ...,
        lambda_covariance: float = ...,
        beta: float = ...,
        covariance_jitter: float = ...,
        learning_rate: float = ...,
        epochs: int = ...,
        batch_size: int = ...,
        validation_fraction: float = ...,
        patience: int = ...,
        restarts: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class VAEGMM(BaseDetector):
    """DAGMM with a variational compression network; score = sample energy"""
    compression: str
    hidden: Sequence[int]
    activation: str
    init: str
    estimation_hidden: Sequence[int]
    estimation_dropout: float
    components: int
    lambda_energy: float
    lambda_covariance: float
    beta: float
    covariance_jitter: float
    learning_rate: float
    epochs: int
    batch_size: int
    validation_fraction: float
    patience: int
    restarts: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        compression: str = ...,
        hidden: Sequence[int] = ...,
        activation: str = ...,
        init: str = ...,
        estimation_hidden: Sequence[int] = ...,
        estimation_dropout: float = ...,
        components: int = ...,
        lambda_energy: float = ...,
        lambda_covariance: float = ...,
        beta: float = ...,
        covariance_jitter: float = ...,
        learning_rate: float = ...,
        epochs: int = ...,
        batch_size: int = ...,
        validation_fraction: float = ...,
        patience: int = ...,
        restarts: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class DeepSVDD(BaseDetector):
    """Deep SVDD (Ruff et al. 2018); score = squared distance to the centre"""
    hidden: Sequence[int]
    activation: str
    objective: str
    nu: float
    centre_eps: float
    weight_decay: float
    learning_rate: float
    epochs: int
    batch_size: int
    validation_fraction: float
    patience: int
    restarts: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        hidden: Sequence[int] = ...,
        activation: str = ...,
        objective: str = ...,
        nu: float = ...,
        centre_eps: float = ...,
        weight_decay: float = ...,
        learning_rate: float = ...,
        epochs: int = ...,
        batch_size: int = ...,
        validation_fraction: float = ...,
        patience: int = ...,
        restarts: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class BiGAN(BaseDetector):
    """BiGAN (Donahue et al. 2017) scored as Zenati et al. 2018: reconstruction error mixed with discriminator feature matching"""
    latent: int
    encoder_hidden: Sequence[int]
    generator_hidden: Sequence[int]
    discriminator_width: int
    discriminator_dropout: float
    alpha: float
    init: str
    spectral_norm: bool
    learning_rate: float
    epochs: int
    batch_size: int
    validation_fraction: float
    patience: int
    restarts: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        latent: int = ...,
        encoder_hidden: Sequence[int] = ...,
        generator_hidden: Sequence[int] = ...,
        discriminator_width: int = ...,
        discriminator_dropout: float = ...,
        alpha: float = ...,
        init: str = ...,
        spectral_norm: bool = ...,
        learning_rate: float = ...,
        epochs: int = ...,
        batch_size: int = ...,
        validation_fraction: float = ...,
        patience: int = ...,
        restarts: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class ALAD(BaseDetector):
    """ALAD (Zenati et al. 2018): BiGAN with cycle-consistency discriminators; score = L1 distance of D_xx features"""
    latent: int
    encoder_hidden: Sequence[int]
    generator_hidden: Sequence[int]
    xz_width: int
    xx_width: int
    zz_width: int
    xz_dropout: float
    pair_dropout: float
    init: str
    spectral_norm: bool
    learning_rate: float
    epochs: int
    batch_size: int
    validation_fraction: float
    patience: int
    restarts: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        latent: int = ...,
        encoder_hidden: Sequence[int] = ...,
        generator_hidden: Sequence[int] = ...,
        xz_width: int = ...,
        xx_width: int = ...,
        zz_width: int = ...,
        xz_dropout: float = ...,
        pair_dropout: float = ...,
        init: str = ...,
        spectral_norm: bool = ...,
        learning_rate: float = ...,
        epochs: int = ...,
        batch_size: int = ...,
        validation_fraction: float = ...,
        patience: int = ...,
        restarts: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class RealNVP(BaseDetector):
    """RealNVP normalizing flow (affine couplings); score = -log p(x)"""
    layers: int
    hidden: Sequence[int]
    activation: str
    max_log_scale: float
    bins: int
    tail_bound: float
    learning_rate: float
    epochs: int
    batch_size: int
    validation_fraction: float
    patience: int
    restarts: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        layers: int = ...,
        hidden: Sequence[int] = ...,
        activation: str = ...,
        max_log_scale: float = ...,
        bins: int = ...,
        tail_bound: float = ...,
        learning_rate: float = ...,
        epochs: int = ...,
        batch_size: int = ...,
        validation_fraction: float = ...,
        patience: int = ...,
        restarts: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class MAF(BaseDetector):
    """masked autoregressive flow (MAF); score = -log p(x)"""
    layers: int
    hidden: Sequence[int]
    activation: str
    max_log_scale: float
    bins: int
    tail_bound: float
    learning_rate: float
    epochs: int
    batch_size: int
    validation_fraction: float
    patience: int
    restarts: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        layers: int = ...,
        hidden: Sequence[int] = ...,
        activation: str = ...,
        max_log_scale: float = ...,
        bins: int = ...,
        tail_bound: float = ...,
        learning_rate: float = ...,
        epochs: int = ...,
        batch_size: int = ...,
        validation_fraction: float = ...,
        patience: int = ...,
        restarts: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class NSF(BaseDetector):
    """neural spline flow (rational-quadratic couplings); score = -log p(x)"""
    layers: int
    hidden: Sequence[int]
    activation: str
    max_log_scale: float
    bins: int
    tail_bound: float
    learning_rate: float
    epochs: int
    batch_size: int
    validation_fraction: float
    patience: int
    restarts: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        layers: int = ...,
        hidden: Sequence[int] = ...,
        activation: str = ...,
        max_log_scale: float = ...,
        bins: int = ...,
        tail_bound: float = ...,
        learning_rate: float = ...,
        epochs: int = ...,
        batch_size: int = ...,
        validation_fraction: float = ...,
        patience: int = ...,
        restarts: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class Seq2Seq(BaseDetector):
    """LSTM encoder-decoder over windows of a series (rows = windows); score = mean squared reconstruction error"""
    channels: int
    hidden: int
    learning_rate: float
    epochs: int
    batch_size: int
    validation_fraction: float
    patience: int
    restarts: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        channels: int = ...,
        hidden: int = ...,
        learning_rate: float = ...,
        epochs: int = ...,
        batch_size: int = ...,
        validation_fraction: float = ...,
        patience: int = ...,
        restarts: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class ConvAE(BaseDetector):
    """convolutional autoencoder for images (rows = channels x height x width pixels); score = mean squared pixel error"""
    channels: int
    height: Any
    filters: Sequence[int]
    latent: int
    learning_rate: float
    epochs: int
    batch_size: int
    validation_fraction: float
    patience: int
    restarts: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        channels: int = ...,
        height: Any = ...,
        filters: Sequence[int] = ...,
        latent: int = ...,
        learning_rate: float = ...,
        epochs: int = ...,
        batch_size: int = ...,
        validation_fraction: float = ...,
        patience: int = ...,
        restarts: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class PCA(BaseDetector):
    """principal component analysis; score = squared reconstruction error"""
    n_components: Any
    variance: float
    scoring: str
    def __init__(
        self,
        contamination: float = ...,
        *,
        n_components: Any = ...,
        variance: float = ...,
        scoring: str = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class IForest(BaseDetector):
    """isolation forest (Liu et al. 2008); score = 2^(-mean path / c(psi))"""
    n_trees: int
    max_samples: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        n_trees: int = ...,
        max_samples: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class Mahalanobis(BaseDetector):
    """Mahalanobis distance to the training mean (regularised covariance)"""
    regularization: float
    def __init__(
        self,
        contamination: float = ...,
        *,
        regularization: float = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class OCSVM(BaseDetector):
    """one-class SVM (Schölkopf et al. 2001, linfa-svm); score = negated decision value"""
    nu: float
    kernel: str
    gamma: str
    degree: int
    coef0: float
    tolerance: float
    max_rows: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        nu: float = ...,
        kernel: str = ...,
        gamma: str = ...,
        degree: int = ...,
        coef0: float = ...,
        tolerance: float = ...,
        max_rows: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class ECOD(BaseDetector):
    """ECOD (Li et al. 2022); score = summed empirical-CDF tail surprise"""
    def __init__(
        self,
        contamination: float = ...,
        *,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class COPOD(BaseDetector):
    """COPOD (Li et al. 2020); score = empirical-copula tail surprise"""
    def __init__(
        self,
        contamination: float = ...,
        *,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class HBOS(BaseDetector):
    """histogram-based outlier score (Goldstein & Dengel 2012), static or dynamic bins"""
    bins: int
    binning: str
    alpha: float
    tolerance: float
    def __init__(
        self,
        contamination: float = ...,
        *,
        bins: int = ...,
        binning: str = ...,
        alpha: float = ...,
        tolerance: float = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class KNN(BaseDetector):
    """k-nearest-neighbour distance (largest, mean or median) to the training rows"""
    k: int
    method: str
    def __init__(
        self,
        contamination: float = ...,
        *,
        k: int = ...,
        method: str = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class LOF(BaseDetector):
    """local outlier factor (Breunig et al. 2000) against the training rows"""
    k: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        k: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class LODA(BaseDetector):
    """LODA (Pevný 2016): histograms on sparse random projections; score = mean -log density"""
    projections: int
    bins: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        projections: int = ...,
        bins: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class HalfSpaceTrees(OnlineMixin, BaseDetector):
    """Half-Space Trees (Tan, Ting & Liu 2011): online mass in random half-spaces, learning each window of rows as they arrive"""
    n_trees: int
    height: int
    window: int
    size_limit: float
    def __init__(
        self,
        contamination: float = ...,
        *,
        n_trees: int = ...,
        height: int = ...,
        window: int = ...,
        size_limit: float = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class RobustZScore(OnlineMixin, BaseDetector):
    """streaming robust z-score: the largest |x − median| / (1.4826 MAD) over features, on a sliding window of recent rows"""
    window: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        window: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class GradientBoosting(BaseDetector):
    """gradient-boosted trees (log loss, Newton leaves, balanced weights, early stopping); score = anomaly log-odds"""
    n_trees: int
    learning_rate: float
    max_depth: int
    min_samples_leaf: int
    l2: float
    max_bins: int
    patience: int
    validation_share: float
    def __init__(
        self,
        contamination: float = ...,
        *,
        n_trees: int = ...,
        learning_rate: float = ...,
        max_depth: int = ...,
        min_samples_leaf: int = ...,
        l2: float = ...,
        max_bins: int = ...,
        patience: int = ...,
        validation_share: float = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class RandomForest(BaseDetector):
    """random forest (bootstrap trees, √d columns per split, balanced classes); score = mean leaf anomaly share"""
    n_trees: int
    max_depth: int
    min_samples_leaf: int
    max_features: str
    max_bins: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        n_trees: int = ...,
        max_depth: int = ...,
        min_samples_leaf: int = ...,
        max_features: str = ...,
        max_bins: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class DecisionTree(BaseDetector):
    """decision tree (CART, class-weighted Gini); score = the anomaly share of the row's leaf"""
    max_depth: int
    min_samples_leaf: int
    max_bins: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        max_depth: int = ...,
        min_samples_leaf: int = ...,
        max_bins: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class Logistic(BaseDetector):
    """logistic regression (L2, L-BFGS by linfa, classes balanced by repeating the rarer); score = anomaly log-odds"""
    alpha: float
    max_iterations: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        alpha: float = ...,
        max_iterations: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class SGD(BaseDetector):
    """linear model by averaged SGD (hinge, log or modified Huber loss, balanced class weights); score = margin"""
    loss: str
    alpha: float
    epochs: int
    eta0: float
    def __init__(
        self,
        contamination: float = ...,
        *,
        loss: str = ...,
        alpha: float = ...,
        epochs: int = ...,
        eta0: float = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class KNNClassifier(BaseDetector):
    """k-nearest-neighbour classifier (balanced, distance-weighted votes); score = anomaly share of the k nearest"""
    k: int
    weights: str
    def __init__(
        self,
        contamination: float = ...,
        *,
        k: int = ...,
        weights: str = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class GaussianNB(BaseDetector):
    """Gaussian naive Bayes (linfa-bayes); score = log likelihood ratio of anomaly to normal"""
    var_smoothing: float
    def __init__(
        self,
        contamination: float = ...,
        *,
        var_smoothing: float = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class MLPClassifier(BaseDetector):
    """multi-layer perceptron classifier (burn, class-balanced cross-entropy, accuracy per epoch); score = anomaly logit"""
    hidden: Sequence[int]
    activation: str
    dropout: float
    learning_rate: float
    epochs: int
    batch_size: int
    validation_fraction: float
    patience: int
    restarts: int
    def __init__(
        self,
        contamination: float = ...,
        *,
        hidden: Sequence[int] = ...,
        activation: str = ...,
        dropout: float = ...,
        learning_rate: float = ...,
        epochs: int = ...,
        batch_size: int = ...,
        validation_fraction: float = ...,
        patience: int = ...,
        restarts: int = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class XGBOD(BaseDetector):
    """XGBOD: unsupervised detectors' score ranks added to the features of boosted trees; score = anomaly log-odds"""
    detectors: Sequence[Any]
    n_trees: int
    learning_rate: float
    max_depth: int
    min_samples_leaf: int
    l2: float
    max_bins: int
    patience: int
    validation_share: float
    def __init__(
        self,
        contamination: float = ...,
        *,
        detectors: Sequence[Any] = ...,
        n_trees: int = ...,
        learning_rate: float = ...,
        max_depth: int = ...,
        min_samples_leaf: int = ...,
        l2: float = ...,
        max_bins: int = ...,
        patience: int = ...,
        validation_share: float = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...

class Ensemble(BaseDetector):
    """Ensemble of detectors; score = weighted mean of each member's rank among its own training scores"""
    members: Sequence[Any]
    weights: Any
    def __init__(
        self,
        contamination: float = ...,
        *,
        members: Sequence[Any] = ...,
        weights: Any = ...,
        threshold: str | None = ...,
        scaling: str = ...,
        impute: bool = ...,
        random_state: int | None = ...,
        device: str | None = ...,
    ) -> None: ...
