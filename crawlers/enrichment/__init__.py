"""What an article names: places and organisations, from the gazetteer beside this module."""
