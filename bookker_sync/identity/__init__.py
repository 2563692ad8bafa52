"""The only code that talks to the API's token issuer (Entra ID, or the emulator)."""
