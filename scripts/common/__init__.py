"""Small helpers shared across capabilities; stdlib only (PyYAML for profiles), so they run early.

``dotenv`` reads ``.env`` as direnv does, for make; ``video_backend`` picks LeRobot's decoder
(``make video-backend``, and the train launcher); ``clean`` is ``make clean`` (only what the
toolkit made); ``robot_profiles`` loads ``recipes/robots/*.yaml`` for deploy and motors alike.
Nothing is imported here.
"""
