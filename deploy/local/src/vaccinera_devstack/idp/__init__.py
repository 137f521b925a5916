"""Development identity provider: SITHS (staff) and BankID (citizen) logins over HTTP, JWKS."""
