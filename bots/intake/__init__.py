"""The youth intake: the page, its API and event stream (backend-for-frontend), what the
page may see of a room, and the limits that keep one browser or site from flooding it."""
