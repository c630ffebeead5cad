"""RadLab: hands-on CNNs for radiology."""
from radlab.lesson import fast_mode

__version__ = "0.1.0"
__all__ = ["fast_mode", "__version__"]
