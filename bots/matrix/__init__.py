"""The homeservers as the bot reaches them: the client-server gateway, the Synapse Admin
API, typed errors, and the links and room directory per homeserver."""
