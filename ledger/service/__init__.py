"""The passport service (the top layer): a read-only web service over the event index, serving the page
a battery's QR code opens and the same data as JSON, by Annex XIII tier after Sign-In with Ethereum."""
