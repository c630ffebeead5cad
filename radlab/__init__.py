"""RadLab: hands-on CNNs for radiology."""
__version__ = "0.1.0"
