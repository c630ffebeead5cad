"""Chapter 8 — Architectures: LeNet to U-Net, 2-D vs 3-D, channels for views and phases, autoencoders."""
from __future__ import annotations

from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "course/08_architectures"


def exercises() -> ExerciseSet:
    """The chapter's exercises; the notebook calls ``ex.vgg_weights.check(ANSWER_VGG_WEIGHTS)`` etc."""
    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "vgg_weights",
            "64 channels in and out, no bias: how many weights do TWO stacked 3×3 convolutions have "
            "(they see a 5×5 neighbourhood, like one 5×5 convolution with 102,400 weights)?",
            number(2 * 3 * 3 * 64 * 64),
            hints=["One k×k convolution with C channels in and out has k·k·C·C weights.",
                   "2 × 3 × 3 × 64 × 64."],
            solution="73,728: 28 % fewer than one 5×5 layer (102,400) for the same receptive field, and an extra "
                     "ReLU in between. conv_weights(3, 64, 2) computes it.",
            mistakes=[Mistake(3 * 3 * 64 * 64, "that is one 3×3 layer; there are two."),
                      Mistake(102400, "that is the single 5×5 layer.")]),
        Exercise(
            "inception_channels",
            "An inception block has four branches, each giving 8 feature maps, concatenated. How many channels "
            "leave the block?",
            number(32),
            hints=["Concatenation stacks the branches' maps along the channel axis.", "4 × 8."],
            solution="32: InceptionBlock(…, branch=8).out_channels. The 1×1 bottlenecks before the 3×3 and 5×5 "
                     "branches keep the cost of the wide kernels low.",
            mistakes=[Mistake(8, "the branches are concatenated, not added or averaged.")]),
        Exercise(
            "residual_zero",
            "A residual block computes output = x + F(x). If its layers learn F(x) = 0, what does the block "
            "output: 'zero', 'x' or 'F(x)'?",
            choice("x"), choices=("zero", "x", "F(x)"),
            hints=["Substitute F(x) = 0 into output = x + F(x).",
                   "That is why extra residual blocks can do no harm: they can learn to pass the input on."],
            solution="x: the identity. A deep ResNet can always be at least as good as a shallower one, and the "
                     "gradient flows through the '+ x' path unchanged (Maier 2019, section 2.5).",
            mistakes=[Mistake("zero", "the skip connection adds x back.")]),
        Exercise(
            "phase_channels",
            "A 2-D CNN classifies liver lesions from non-contrast, arterial and portal-venous phase slices "
            "stacked as channels. What is in_channels of its first layer?",
            number(3),
            hints=["Each co-registered phase becomes one channel, like R, G, B of a photograph.",
                   "Count the phases."],
            solution="3 (Yamashita 2018 describes triphasic liver CT used exactly this way). The phases must be "
                     "registered: channel k of pixel (i, j) must be the same voxel in each phase.",
            mistakes=[Mistake(1, "one channel would hold one phase only."),
                      Mistake(9, "that counts 3×3 kernel entries, not channels.")]),
        Exercise(
            "conv3d_weights",
            "A 3-D convolution with 3×3×3 kernels takes 1 channel to 8 channels, no bias. How many weights?",
            number(3 * 3 * 3 * 8),
            hints=["Each output channel has one kernel per input channel.", "3 × 3 × 3 × 1 × 8."],
            solution="216 (a 2-D 3×3 layer would have 72): 3-D kernels cost a factor k more per layer, and the "
                     "feature maps a factor of the depth more memory.",
            mistakes=[Mistake(72, "that is the 2-D 3×3 layer; a 3-D kernel also spans 3 slices.")]),
        Exercise(
            "device_order",
            "A resident runs RadLab on a MacBook with an Apple M-series chip and no NVIDIA card. On which device "
            "does fit() train: 'cuda', 'mps' or 'cpu'?",
            choice("mps"), choices=("cuda", "mps", "cpu"),
            hints=["RadLab tries the devices in a fixed order and takes the first one that is available.",
                   "The order is cuda (NVIDIA GPUs), then mps (Apple's GPU), then cpu; no NVIDIA card means no cuda."],
            solution="mps: radlab.device.pick_device() tries cuda, then Apple's Metal GPU (mps), then the CPU. "
                     "RADLAB_DEVICE=cpu forces the CPU, e.g. to compare speeds.",
            mistakes=[Mistake("cuda", "cuda needs an NVIDIA GPU, which this laptop does not have."),
                      Mistake("cpu", "the CPU is the last resort; this laptop has a GPU PyTorch can use.")]),
    ])
