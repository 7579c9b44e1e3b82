"""The capture engine: window rules and policy, time gates, redaction, change check, encoding
and the pipeline that runs one capture. Pure decisions apart from the I/O that drives them."""
