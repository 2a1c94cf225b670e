"""The measurement steps: predict (every model on the test split), evaluate (every pairwise metric against the
baseline), saliency (captum maps and how far they moved) and population (the spread over seeds), with the
metrics, calibration, robustness and attribution code they share."""
