<?php
// Recursion through an internal callback: PHP's own depth checks do not see it,
// and the executor's C stack overflows.
function f($n) { return array_map("f", [$n + 1]); }
f(0);
echo "unreachable\n";
