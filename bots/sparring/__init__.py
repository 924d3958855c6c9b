"""The counsellors' network across municipalities: case notes shared without the person,
and the digest of the network's anonymous numbers."""
