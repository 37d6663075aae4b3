"""The analyst workbench: a server-rendered Flask application over the index and the analytics
(``sokhund serve``). See DEVELOPING.md for how pages are added."""
