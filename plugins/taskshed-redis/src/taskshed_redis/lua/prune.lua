-- Drop members that don't belong from a group set or a callback index:
-- ARGV = base, the key, then members (a batch read with SSCAN/ZSCAN).
prune(ARGV[2], {unpack(ARGV, 3)})
return 1
