"""HTTP behaviour written once for every vendor hook: requests and flows, settings, retry, rate limit,
whole-request deadlines and secret redaction. Nothing here knows a vendor or Airflow's hook API."""
