import pytest
import torch

from ddrcore.model.networks import Autoencoder, DDRIDNetworks, Decoder, Encoder, LatentDiscriminator, count_parameters


@pytest.mark.parametrize("channels,size,latent", [(1, 32, 128), (3, 32, 512), (1, 64, 128)])
def test_shapes(channels, size, latent):
    nets = DDRIDNetworks(channels, input_size=size)
    assert nets.latent_dim == latent
    x = torch.randn(3, channels, size, size)
    z = nets.r_c.encoder(x)
    assert z.shape == (3, latent)
    y = nets.r_n(x)
    assert y.shape == x.shape
    assert (y.abs() <= 1).all()  # Tanh output
    assert nets.d_l(z).shape == (3,)
    p = nets.d_l.probability(z)
    assert ((p > 0) & (p < 1)).all()


def test_table1_layers():
    enc = Encoder(1, 128, 32)
    convs = [m for m in enc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (64, (4, 4), (2, 2)), (128, (4, 4), (2, 2)), (256, (4, 4), (2, 2)), (512, (4, 4), (2, 2))]
    assert enc.fc.out_features == 128
    dec = Decoder(1, 128, 32)
    deconvs = [m for m in dec.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(d.out_channels, d.kernel_size, d.stride) for d in deconvs] == [
        (512, (4, 4), (1, 1)), (256, (4, 4), (2, 2)), (128, (4, 4), (2, 2)), (1, (4, 4), (2, 2))]
    dec64 = Decoder(1, 128, 64)
    assert [d.out_channels for d in dec64.modules() if isinstance(d, torch.nn.ConvTranspose2d)] == [512, 256, 128, 64, 1]
    d = LatentDiscriminator(128)
    assert [m.out_features for m in d.modules() if isinstance(m, torch.nn.Linear)] == [64, 32, 16, 1]
    assert [m.out_features for m in LatentDiscriminator(512).modules() if isinstance(m, torch.nn.Linear)] == [128, 32, 16, 1]
    # About 6.7 M parameters per autoencoder at 32x32 grey.
    assert 6.5e6 < count_parameters(Autoencoder(1, 128, 32)) < 7.0e6


def test_bad_input_size_is_refused():
    with pytest.raises(ValueError, match="power of two"):
        Encoder(1, 128, 48)
