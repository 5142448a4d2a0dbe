<?php
// Compressible output; zlib.output_compression is switched on here, per request.
ini_set('zlib.output_compression', '1');
echo str_repeat("Torus compresses this line when asked to.\n", 200);
