// Placeholder entry; the real CLI replaces it in this same issue.
process.stderr.write('task-lock: not built yet\n');
process.exitCode = 2;
