<?php

namespace App\Http\Controllers;

use Illuminate\Http\Request;
use Illuminate\Routing\Controller;
use Illuminate\Support\Facades\DB;
use RuntimeException;

class DemoController extends Controller
{
    /**
     * Pages and JSON answers this PHP interpreter has served: 1 in classic
     * mode, where every request starts afresh; growing in a worker, where
     * the application (and this static) outlives the request. (Not counted
     * in the constructor: a worker's router keeps the controller instance.)
     */
    private static int $served = 0;

    /** GET / : a Blade page. */
    public function home(Request $request)
    {
        return view('home', [
            'name' => $request->query('name', 'world'),
            'mode' => $request->server('TORUS_WORKER') ? 'worker' : 'classic',
            'served' => ++self::$served,
            'features' => ['Blade views', 'SQLite through the query builder', 'sessions', 'JSON'],
        ]);
    }

    /** GET /db : rows read from SQLite. */
    public function db()
    {
        $rows = DB::table('greetings')->orderBy('id')->get(['id', 'language', 'text']);

        return response()->json(['count' => $rows->count(), 'greetings' => $rows]);
    }

    /**
     * GET /session : a counter kept in this client's session; ?visitor=NAME
     * records a name the first time, so a test can tell sessions apart.
     */
    public function session(Request $request)
    {
        $session = $request->session();
        $counter = $session->get('counter', 0) + 1;
        $session->put('counter', $counter);
        if ($request->has('visitor') && !$session->has('visitor')) {
            $session->put('visitor', (string) $request->query('visitor'));
        }

        return response()->json(['counter' => $counter, 'visitor' => $session->get('visitor')]);
    }

    /** GET /throw : an uncaught exception, rendered as a 500 by the handler. */
    public function throw()
    {
        throw new RuntimeException('thrown on purpose by /throw');
    }

    /** GET /json */
    public function json(Request $request)
    {
        return response()->json([
            'framework' => 'laravel',
            'laravel' => app()->version(),
            'php' => PHP_VERSION,
            'mode' => $request->server('TORUS_WORKER') ? 'worker' : 'classic',
            'served' => ++self::$served,
        ]);
    }
}
