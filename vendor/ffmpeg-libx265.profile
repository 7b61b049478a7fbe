# Optional: HEVC encoding with libx265 (GPL). FFSTREAM_FFMPEG_OPTIONAL=libx265
# x265 is C++: the binary then also links libstdc++ statically.
#needs-static: x265 libx265-dev
#needs-static: numa libnuma-dev
--enable-libx265
--enable-encoder=libx265
