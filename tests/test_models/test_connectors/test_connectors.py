"""Connectors between recorded features."""
import pytest
import torch

from mstkd.models.connectors import ConvConnector, LinearConnector


def test_linear_connector_flattens():
    conn = LinearConnector(12, 5)
    assert conn(torch.randn(3, 3, 2, 2)).shape == (3, 5)


@pytest.mark.parametrize('in_size,out_size', [((8, 8), (4, 4)),
                                              ((4, 4), (8, 8)),
                                              ((6, ), (6, )),
                                              ((2, 4, 4), (1, 2, 2))])
def test_conv_connector_matches_the_teacher_map(in_size, out_size):
    conn = ConvConnector(3, 7, kernel_size=3, norm=True, in_size=in_size,
                         out_size=out_size)
    out = conn(torch.randn(2, 3, *in_size))
    assert out.shape == (2, 7, *out_size)
    out.sum().backward()
    assert conn.conv.weight.grad is not None
    with pytest.raises(ValueError, match='1-D to 3-D'):
        ConvConnector(3, 7, in_size=(1, 1, 1, 1))
