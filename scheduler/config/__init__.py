"""Configuration below every use case: the settings (the only reader of the environment), the rule
profile loader and the logging set-up."""
