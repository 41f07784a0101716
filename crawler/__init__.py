"""policytrail's Scrapy application: archive dialects, the policy spider, its pipeline,
jobs and the command-line interface."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/policytrail/policytrail"
USER_AGENT = f"policytrail/{__version__} (+{PROJECT_URL}; archived privacy-policy research)"
