"""Data: the dataset catalog, MedMNIST, DICOM, phantoms, splits and transforms.

Import the submodule you need (``from radlab.data.medmnist import load_medmnist``);
this package imports nothing heavy by itself.
"""
