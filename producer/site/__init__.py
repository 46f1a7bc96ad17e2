"""What a browser opens: ``/``, the demo page, the API document and its page, the JavaScript
SDK."""
