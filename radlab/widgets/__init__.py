"""ipywidgets components for the labs: one module per lab, composed from radlab.viz and the core."""
