"""Small helpers shared across capabilities; stdlib only, so they run before any environment.

``dotenv`` reads ``.env`` as direnv does, for make; ``video_backend`` picks LeRobot's decoder
(``make video-backend``, and the train launcher). Nothing is imported here.
"""
