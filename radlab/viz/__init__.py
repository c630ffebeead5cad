"""Plotly figures (never ipywidgets): images, curves, convolutions, models, explanations.

Import the module you need (``from radlab.viz.images import image_figure``); this package
imports nothing by itself, so importing one figure module stays light.
"""
