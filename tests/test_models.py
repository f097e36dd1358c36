"""Shapes, masking and learning of the reference models."""

import pytest
import torch
import torch.nn.functional as F

from deepearth_training.models import (
    GeoClassifier,
    GeoVisionClassifier,
    LanguageClassifier,
    MultimodalMaskedAutoencoder,
    SpaceTimeEncoder,
    VisionClassifier,
    masked_autoencoder_loss,
    pool_vision,
)

B, K = 5, 7


def test_language_classifier_shapes():
    assert LanguageClassifier(K)(torch.randn(B, 7168)).shape == (B, K)
    assert LanguageClassifier(K, embedding_dim=32, hidden_dim=16)(torch.randn(B, 32)).shape == (B, K)


@pytest.mark.parametrize('shape', [(B, 2, 3, 3, 1408), (B, 1408)])
def test_vision_classifier_shapes(shape):
    x = torch.randn(*shape, dtype=torch.float16)
    assert VisionClassifier(K)(x).shape == (B, K)


def test_vision_rejects_bad_rank():
    with pytest.raises(ValueError, match=r'\[B, T, H, W, C\]'):
        VisionClassifier(K)(torch.randn(B, 3, 1408))


def test_autoencoder_shapes_and_masking():
    m = MultimodalMaskedAutoencoder(fusion_dim=32).eval()
    v, l = torch.randn(B, 2, 2, 2, 1408), torch.randn(B, 7168)
    out = m(v, l)
    assert out['vision_reconstruction'].shape == (B, 1408) and out['language_reconstruction'].shape == (B, 7168)
    assert out['shared_vision'].shape == out['shared_language'].shape == (B, 32)
    with torch.no_grad():
        other = m(torch.randn(B, 1408), l)
    assert torch.equal(out['vision_reconstruction'].detach(), other['vision_reconstruction'])


def test_space_time_encoder_and_geo_classifiers():
    coords = torch.tensor([[28.5, -81.4, 10.0, 2020.0]] * B)
    coords[0, 2] = float('nan')
    assert SpaceTimeEncoder(out_dim=16)(coords).shape == (B, 16)
    assert GeoClassifier(K)(coords).shape == (B, K)
    assert GeoVisionClassifier(K)(torch.randn(B, 1408), coords).shape == (B, K)
    with pytest.raises(ValueError, match='year'):
        GeoClassifier(K)(torch.tensor([[28.5, -81.4, 10.0, float('nan')]]))


@pytest.mark.parametrize('name', ['language', 'vision', 'geo', 'fusion'])
def test_short_training_lowers_loss(name):
    torch.manual_seed(0)
    n = 64
    y = torch.arange(n) % 4
    lang, vis = torch.randn(4, 7168)[y], torch.randn(4, 1408)[y] + 0.5 * torch.randn(n, 1408)
    coords = torch.stack(
        [
            28 + 0.3 * y + 0.02 * torch.randn(n),
            -81.4 + 0.2 * (y % 2) + 0.02 * torch.randn(n),
            30.0 + 80 * y,
            torch.full((n,), 2020.0),
        ],
        1,
    )
    model, inputs = {
        'language': (LanguageClassifier(4), (lang,)),
        'vision': (VisionClassifier(4), (vis,)),
        'geo': (GeoClassifier(4), (coords,)),
        'fusion': (GeoVisionClassifier(4), (vis, coords)),
    }[name]
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = F.cross_entropy(model(*inputs), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_autoencoder_training_lowers_loss():
    torch.manual_seed(0)
    y = torch.arange(16) % 2
    v, l = torch.randn(2, 1408)[y] + 0.3 * torch.randn(16, 1408), torch.randn(2, 7168)[y]
    m = MultimodalMaskedAutoencoder(fusion_dim=32)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    first = None
    for _ in range(40):
        loss, _ = masked_autoencoder_loss(m(v, l), v, l)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
    assert pool_vision(v).shape == (16, 1408)
