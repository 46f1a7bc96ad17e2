"""What two or more Herald services really share: settings, logging, models, naming, topology."""
