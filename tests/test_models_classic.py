"""Chapter 8 core: the classic miniatures, their parameter counts, the timeline figure, the exercises."""
import pytest
import torch
from torch import nn

from radlab.course.ch08_architectures import exercises
from radlab.models import count_parameters
from radlab.models.classic import InceptionBlock, LeNet5, MiniVGG, classic_models, conv_weights, vgg_block
from radlab.viz.architectures import timeline_figure


def test_every_classic_model_runs_on_a_grey_image():
    x = torch.rand(2, 1, 64, 64)
    rows = classic_models()
    assert [r.name for r in rows] == ["LeNet-5", "AlexNet", "VGG", "Inception", "ResNet", "U-Net"]
    for r in rows:
        r.model.eval()
        out = r.model(x)
        assert out.shape == ((2, 1, 64, 64) if r.name == "U-Net" else (2, 1)), r.name
    assert [r.year for r in rows] == sorted(r.year for r in rows)


def test_lenet_parameter_count_by_hand():
    # conv1 1->6 5x5, conv2 6->16 5x5, fc 16*13*13->120->84->1 at 64 px
    expected = (6 * 25 + 6) + (16 * 6 * 25 + 16) + (16 * 13 * 13 * 120 + 120) + (120 * 84 + 84) + (84 + 1)
    assert count_parameters(LeNet5(image_size=64))[0] == expected
    assert LeNet5(image_size=32)(torch.rand(1, 1, 32, 32)).shape == (1, 1)


def test_conv_weights_matches_pytorch():
    layers = nn.Sequential(nn.Conv2d(64, 64, 3, bias=False), nn.Conv2d(64, 64, 3, bias=False))
    assert conv_weights(3, 64, 2) == sum(p.numel() for p in layers.parameters())
    assert conv_weights(5, 64) == nn.Conv2d(64, 64, 5, bias=False).weight.numel()


def test_inception_block_concatenates_four_branches_and_keeps_size():
    block = InceptionBlock(16, branch=8, bottleneck=4)
    out = block(torch.rand(1, 16, 20, 20))
    assert out.shape == (1, 32, 20, 20) and block.out_channels == 32


def test_vgg_uses_only_3x3_kernels():
    kernels = {m.kernel_size for m in MiniVGG().modules() if isinstance(m, nn.Conv2d)}
    assert kernels == {(3, 3)}
    assert vgg_block(1, 4)(torch.rand(1, 1, 8, 8)).shape == (1, 4, 4, 4)


def test_timeline_figure_and_its_guard():
    rows = classic_models()[:2]
    fig = timeline_figure(rows, [10, 100])
    assert list(fig.data[0].y) == [10, 100] and "LeNet-5 (1998)" in fig.data[0].x
    with pytest.raises(ValueError):
        timeline_figure(rows, [1])


def test_ch08_exercises_accept_their_answer_and_refuse_a_typical_mistake():
    ex = exercises()
    assert len(ex) >= 3
    for q in ex:
        assert q.check(q.expected(), record=False).correct
    assert not ex.vgg_weights.check(102400, record=False).correct
    assert not ex.residual_zero.check("zero", record=False).correct
    assert ex.conv3d_weights.expected() == nn.Conv3d(1, 8, 3, bias=False).weight.numel()
