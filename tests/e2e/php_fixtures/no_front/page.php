<?php
// A document root without index.php: paths that are not files get 404.
echo "page ran\n";
