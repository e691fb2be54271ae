"""The service API's use cases: service clients and grants, vending tokens, proxying calls."""
